"""Pure metric functions over arrays: retrieval, sts, classification, clustering."""
