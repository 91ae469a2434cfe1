"""Load generators (``tunnelgate bench``): IKE set-up rates against a responder."""
