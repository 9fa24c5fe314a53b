"""numbersearch: Twilio's phone-number catalogue in a local SQL database."""
