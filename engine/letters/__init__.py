"""Reminder documents: the e-mails (.eml), letters (PDF through Typst, DOCX through docxtpl) and call
sheets of the day's communications, their safe file names, and sending the e-mails by SMTP.

`context` (what a document says, as data), `templates` (the controllers' Jinja2 templates, sandboxed),
`pdf` (Typst), `docx`, `message` (the `email` package), `smtp` (sending), `render` (one
communication's documents). The job that runs it all is `encaisse.jobs.letters`.
"""
