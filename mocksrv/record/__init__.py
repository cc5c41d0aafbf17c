"""`mocksrv record`: a recording proxy in front of a real service."""
