"""Setup steps in the language: their checks (`check`) and their evaluation into the model
(`evaluate`). The executor that runs them is `mora.micro`; it reads the model only."""
