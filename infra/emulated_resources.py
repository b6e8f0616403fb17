"""Creates what template.yaml would create in wrapped mode (the table and the wrapping key) in an
emulator such as moto_server, and prints the functions' environment as KEY=VALUE lines.

    python infra/emulated_resources.py http://127.0.0.1:5000 > functions.env
"""

import sys
import uuid

import boto3

REGION = "us-east-1"


def main(endpoint: str) -> None:
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    table = f"appid-{uuid.uuid4().hex[:8]}"
    session.client("dynamodb", endpoint_url=endpoint).create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    key = session.client("kms", endpoint_url=endpoint).create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")
    print(f"AWS_ENDPOINT_URL={endpoint}")
    print(f"AWS_REGION={REGION}")
    print("AWS_ACCESS_KEY_ID=test")
    print("AWS_SECRET_ACCESS_KEY=test")
    print(f"APPID_TABLE_NAME={table}")
    print("APPID_KMS_MODE=wrapped")
    print(f"APPID_KMS_KEY_ID={key['KeyMetadata']['Arn']}")


if __name__ == "__main__":
    main(sys.argv[1])
