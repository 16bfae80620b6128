"""The scenario query service: an HTTP API over the pipeline's trained generators.

``python -m diffrisk.service`` (``make serve``) starts it. Modules: ``settings``
(command line and environment), ``schemas`` (request and response models), ``generators``
(the servable generators and their versions), ``store`` (content-addressed scenario sets),
``audit_log`` (the request log in a database), ``ownership`` (one process per store and
database), ``admission`` (the bounded queue in front of the sampler), ``guard`` (Host
check, token, body limit, JSON errors, record of refused requests), ``runtime`` (the
service's state), ``page`` (the HTML page), ``app`` (the FastAPI application), ``cli``
(the entry point). It serves the checkpoints written by
``dvc repro``; it never trains.
"""
