"""What the front door and the workers share: settings, storage, Redis records and names, processes, errors."""
