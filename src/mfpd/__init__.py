"""mfpd: the network controller of a virtual office multifunction printer."""

__version__ = "0.1.0"
