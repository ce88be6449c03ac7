"""flow layer of cctv-monitor."""
