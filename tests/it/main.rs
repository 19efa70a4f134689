//! Integration tests, compiled into one binary (linking aws-sdk and polars once, not per file).
