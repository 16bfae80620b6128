"""One module per DVC stage: each reads its own parameters, calls the layers below, writes its outputs."""
