"""Keep, place or sell: the recovery curves turned into values, prices and a decision per pool."""
