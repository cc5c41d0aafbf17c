"""The emulated APIs, one package each; `mocksrv.registry` lists them."""
