"""The live sensor (``cctv-monitor live``): capture loop, workers, alert log, health, reload."""
