"""The embedded web server (Xerox calls it CentreWare Internet Services): the pages people use
and the JSON API scripts use, on 80, 443 and the IPP port, on the same aiohttp stack as IPP."""
