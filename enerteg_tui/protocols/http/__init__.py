"""The web server face: HTTP and HTTPS in the controller's process and loop.

``service.HttpService`` follows ``config/http_server`` and starts or stops the listeners
without a restart; FastAPI and uvicorn are imported only when the server is enabled
(``app``). ``tls`` owns the certificate (configured, or self-signed and kept in the data
directory) and the TLS 1.2+ context; ``metrics`` writes ``/metrics`` in the Prometheus
text format straight from live state. ``grafana-dashboard.json`` is the dashboard put
into SFTP ``/docs``. docs/http.md is the integration guide.
"""
