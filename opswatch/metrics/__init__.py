"""What ``/metrics`` counts, in every process of the production shape.

``registry`` picks prometheus-client's multiprocess mode when
PROMETHEUS_MULTIPROC_DIR is set (each process writes its samples to files in that
directory and ``/metrics`` adds them up); ``definitions`` holds the metrics;
``scrape`` answers ``/metrics``, with the gauges read from the database and Redis at
scrape time (``backlog``).
"""
