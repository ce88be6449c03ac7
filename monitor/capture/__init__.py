"""capture layer of cctv-monitor."""
