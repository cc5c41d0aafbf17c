"""`mocksrv conform`: the same conformance plan sent to a target and to mocksrv, compared."""
