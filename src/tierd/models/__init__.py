"""Models: the one owner of memory and queues (load, evict, pin, lease, the queue per model),
the estimate and measured footprints it decides by, and the model verbs."""
