"""What ``hunter demo`` ships: fictional companies, their DNS records and a small DNS server to serve them."""
