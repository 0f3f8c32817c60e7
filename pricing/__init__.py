"""Cloud GPU prices: live (AWS, GCP, Azure), cached, or from the embedded snapshot, as PriceQuote
records.  Entry points: `phantom_report.pricing.catalog.get_quotes` / `quotes_to_frame`."""
