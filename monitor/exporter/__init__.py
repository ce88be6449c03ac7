"""exporter layer of cctv-monitor."""
