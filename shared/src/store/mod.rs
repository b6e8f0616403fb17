//! Adapters behind [`Store`](crate::ports::Store): DynamoDB for AWS, redb for the embedded
//! default, over one stored form of each record.

#[cfg(feature = "embedded")]
mod decoded;
#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(any(feature = "aws", feature = "embedded"))]
mod records;
