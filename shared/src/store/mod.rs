//! Adapters behind [`Store`](crate::ports::Store): DynamoDB for AWS, redb for the embedded
//! default.

#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
