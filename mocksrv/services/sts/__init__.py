"""AWS STS (AssumeRole, GetCallerIdentity) for the roles partners assume to reach the S3 buckets."""
