"""Helpers of the test suite (no tests here; nothing in this package is collected by pytest).

paths: the repository's folders. server: starting a server for a test. cli: the `mocksrv` command
line as a child process. signing: botocore's SigV4 signer. wire: raw HTTP/1.1 over a socket.
agcod, promotions, sts: clients and constants of one API each. recipes: the client recipes of
docs/promotions.md. fuzzing: the fuzz tests' budget, status counter and traceback collector.
"""
