"""Credit management computations: late penalties (L441-10), solvency scoring, exposure against the
credit limit, and a customer's effective policy. Pure: frames, rules records and an as-of date in."""
