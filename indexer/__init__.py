"""Reading code sets as CMS ships them and building a searchable index from them."""
