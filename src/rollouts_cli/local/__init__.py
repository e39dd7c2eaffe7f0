"""The embedded local engine: moto, corrected where AWS behaves otherwise."""
