"""The simulated billing world: latent traits, the landing batches it writes and its ground truth."""
