"""IPP/2.x printer: HTTP transport, operations, printer and job attributes."""
