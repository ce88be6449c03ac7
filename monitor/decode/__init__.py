"""decode layer of cctv-monitor."""
