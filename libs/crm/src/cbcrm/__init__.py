"""CRM adapters behind one interface, phone numbers, lookup cache, rules, routing data."""
