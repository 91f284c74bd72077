"""crm-sync: every call in the right CRM card, exactly once."""
