"""The clients the device uses on the office network: SMTP, FTP/FTPS, SMB (and later LDAP,
Kerberos, POP3, DNS), under one client policy."""
