"""The scanner's network side: eSCL (AirScan) on the web listeners."""
