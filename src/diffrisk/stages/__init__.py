"""One module per DVC stage: it reads its own parameters and calls the layers below."""
