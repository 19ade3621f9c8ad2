"""Writing new workbooks: the template, the fictitious sample company, the dashboard sheet (XlsxWriter)."""
