"""DNS access for the scanner: a fast multiplexed async client (``client``) over a small wire codec (``wire``)."""
