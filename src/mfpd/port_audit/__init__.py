"""`mfpd audit`: the port table of a device (mfpd or a real printer) from a live scan, and its
difference from what a configuration promises."""
