"""Cash forecast: when open receivables will be paid (`payment_dates`) and how well (`backtest`)."""
