"""Dunning: which reminder each customer is due today, what pauses it, and the day's worklist.

Pure: the ledger's frames, the rules records, the Journal and an as-of date in; `Communication`
records (one per customer and run, at the highest due step) and a ranked worklist out. Rendering
the letters and e-mails, writing the Journal and sending are `encaisse.letters`' and
`encaisse.journal`'s.
"""
