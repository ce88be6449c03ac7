"""classify layer of cctv-monitor."""
