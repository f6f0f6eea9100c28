"""Printable lead reports: the data a report shows (:mod:`shared.reports.model`) and the PDF it
becomes (:mod:`shared.reports.pdf`). Pure rendering, no I/O beyond reading the bundled fonts: the
data comes from the one lead-explaining service (``shared.services.reports`` builds it)."""
