"""The OCI distribution API v2: a client (catalog, tags, manifests, blobs) and its auth."""
