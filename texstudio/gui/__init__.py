"""The Qt studio window. Imported lazily: the engine and the CLI never need Qt."""
