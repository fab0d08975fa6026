// What each role sees. The server enforces it; the panel only mirrors it.

export const MANAGERS = ["platform_admin", "owner", "admin"];
export const WRITERS = [...MANAGERS, "reseller"];
export const READERS = [...MANAGERS, "support"];
export const EVERYONE = [...READERS, "reseller"];

export const canSee = (roles, me) => roles.includes(me.role);

// The roles each role may hand out (the server's ASSIGNABLE; it refuses the others).
export const ASSIGNABLE = {
  platform_admin: ["owner", "admin", "reseller", "support", "creator"],
  owner: ["owner", "admin", "reseller", "support", "creator"],
  admin: ["admin", "reseller", "support", "creator"],
  reseller: ["reseller"],
  support: [],
  creator: [],
};
