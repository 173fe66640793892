"""Where `mora apply` deploys: one interface (`base.Target`), one module per kind of target."""
