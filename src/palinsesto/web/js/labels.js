// The operator's words for the API's names: field labels, help and examples, readable enum
// values, and validation messages as sentences. One table, used by forms, tables and filters;
// anything not listed falls back to the schema's title/description or a humanized name.

import { humanize } from "./dom.js";

// name -> { label, help, example }. Help says what the field does, not its type.
export const FIELDS = {
  name: { label: "Name", example: "Sports HD" },
  username: { label: "Username", help: "Letters, digits, dots, dashes, underscores or @.", example: "mario.rossi" },
  password: { label: "Password", help: "Use the generator for a strong one, then copy it for the customer." },
  email: { label: "Email", example: "mario@example.com" },
  notes: { label: "Notes", help: "Only the panel shows these." },
  slug: { label: "Short name", help: "Use lower-case letters, digits and dashes.", example: "acme-tv" },
  number: { label: "Channel number", help: "Where it sits in players' channel lists.", example: "101" },
  sort_order: { label: "Position", help: "Lower numbers come first.", example: "10" },
  kind: { label: "Kind" },
  mode: { label: "When it runs", help: "Always on starts at once; on demand starts when the first viewer arrives." },
  enabled: { label: "Enabled" },
  exp_date: { label: "Expires", help: "Leave empty for a line that never expires." },
  max_connections: { label: "Devices at once", help: "How many players may watch at the same time; 0 = unlimited.", example: "1" },
  is_trial: { label: "Trial" },
  banned: { label: "Banned" },
  allowed_outputs: { label: "Stream formats", help: "What the line may play; choose at least one." },
  allowed_ips: { label: "Allowed IP addresses", help: "Comma-separated; empty allows any.", example: "203.0.113.7, 198.51.100.0" },
  allowed_user_agents: { label: "Allowed players", help: "Comma-separated player names; empty allows any.", example: "VLC, TiviMate" },
  bouquet_ids: { label: "Bouquets", help: "The channel packs this includes." },
  category_ids: { label: "Categories" },
  category_id: { label: "Category" },
  reseller_id: { label: "Reseller", help: "Who sold the line; leave empty for your own." },
  parent_id: { label: "Parent reseller", help: "For sub-resellers only." },
  package_id: { label: "Package", help: "Sets the term and the price in credits." },
  tenant_id: { label: "Tenant", help: "Which tenant this belongs to." },
  user_id: { label: "User" },
  to_user_id: { label: "To" },
  role: { label: "Role", help: "Resellers sell lines with credits; support can only look." },
  credits: { label: "Credits", help: "Price in credits.", example: "10" },
  amount: { label: "Credits", example: "50" },
  duration_days: { label: "Duration (days)", example: "30" },
  status: { label: "Status" },
  url: { label: "Stream address", example: "https://example.com/live.m3u8" },
  archive_days: { label: "Catch-up days", help: "How many days players may rewind; 0 = none.", example: "3" },
  custom_sid: { label: "Service ID", help: "Only if a player needs a fixed DVB service ID." },
  connection_policy: { label: "When a device too many connects" },
  stream_icon: { label: "Logo address", example: "https://example.com/logo.png" },
  icon: { label: "Logo address", example: "https://example.com/logo.png" },
  cover: { label: "Poster address", example: "https://example.com/poster.jpg" },
  backdrop_path: { label: "Backdrop addresses" },
  xmltv_id: { label: "Guide channel ID", example: "sportshd.it" },
  guide_channel_id: { label: "Guide channel ID", example: "sportshd.it" },
  display_name: { label: "Display name" },
  source_url: { label: "Source address", example: "https://example.com/guide.xml" },
  public_url: { label: "Public address", example: "https://tv.example.com" },
  refresh_hours: { label: "Refresh every (hours)", example: "12" },
  tmdb_id: { label: "TMDB ID", help: "The film's number on themoviedb.org.", example: "603" },
  youtube_trailer: { label: "YouTube trailer ID", example: "vKQi3bBA1y8" },
  genre: { label: "Genre", example: "Drama" },
  director: { label: "Director" },
  cast: { label: "Cast" },
  plot: { label: "Plot" },
  episode_num: { label: "Episode number", example: "1" },
  season_number: { label: "Season", example: "1" },
  air_date: { label: "Air date", example: "2024-05-31" },
  timezone: { label: "Time zone", example: "Europe/Rome" },
  weekly_days: { label: "Days of the week" },
  repeat_until: { label: "Repeat until" },
  start: { label: "Starts" },
  end: { label: "Ends" },
  title: { label: "Title" },
  description: { label: "Description" },
  priority: { label: "Priority", help: "Higher wins when two entries overlap." },
  max_nodes: { label: "Node limit", help: "0 = unlimited." },
  current_password: { label: "Current password" },
  new_password: { label: "New password" },
  otp: { label: "Code from the authenticator app", example: "123456" },
  ip: { label: "IP address" },
  user_agent: { label: "Player" },
  expires_at: { label: "Expires" },
  lang: { label: "Language", example: "it" },
  public_watch: { label: "Public watch" },
  epg_channel_id: { label: "Guide channel ID", example: "sportshd.it" },
  logo: { label: "Logo address", example: "https://example.com/logo.png" },
  year: { label: "Year", example: "2024" },
  rating: { label: "Rating", example: "7.5" },
  release_date: { label: "Release date", help: "Year-month-day.", example: "2024-05-31" },
  container_extension: { label: "File type", example: "mp4" },
  delivery: { label: "Remote source delivery", help: "For an http(s) source: redirect sends players to its address; proxy streams it through this server (the address stays hidden)." },
  max_channels: { label: "Channel limit", help: "0 = unlimited." },
  max_lines: { label: "Line limit", help: "0 = unlimited." },
  capacity: { label: "Capacity (viewers)" },
  last_heartbeat_at: { label: "Last seen" },
  created_at: { label: "Created" },
  balance_after: { label: "Balance after" },
  reason: { label: "Reason" },
  days: { label: "Days", example: "30" },
  action: { label: "Action" },
  path: { label: "Folder", help: "Inside this panel's media folder; empty for all of it.", example: "films" },
  files_ok: { label: "Files" },
  files_broken: { label: "Unreadable" },
  files_missing: { label: "Missing" },
  operator_name: { label: "Operator (legal entity)" },
  operator_address: { label: "Postal address" },
  operator_email: { label: "Legal contact e-mail" },
  security_contact: { label: "Security contact", help: "mailto: or https: address; security.txt names it." },
  ip_truncate_days: { label: "Cut client addresses after (days)", help: "Empty: the platform's default." },
  ip_remove_days: { label: "Remove client addresses after (days)", help: "Empty: the platform's default." },
  max_viewers: { label: "Viewer limit", help: "Viewers at once; empty = unlimited." },
  max_storage_gb: { label: "Storage limit (GB)", help: "Empty = unlimited." },
  trial_ends_at: { label: "Trial ends" },
};

// Readable names for enum values, whatever field carries them.
export const VALUES = {
  platform_admin: "Platform admin", owner: "Owner", admin: "Admin", reseller: "Reseller", support: "Support (read-only)", creator: "Creator",
  live: "Live TV", movie: "Movies", series: "Series",
  always_on: "Always on", on_demand: "On demand",
  push_rtmp: "Push from OBS (RTMP)", pull: "Pull from an address",
  m3u8: "HLS (.m3u8)", ts: "MPEG-TS (.ts)", rtmp: "RTMP",
  active: "Active", suspended: "Suspended", expired: "Expired", disabled: "Disabled", banned: "Banned",
  online: "Online", offline: "Offline", draining: "Draining",
  hls: "HLS", http_ts: "HTTP MPEG-TS", rtsp: "RTSP", main: "Main node", edge: "Edge node",
  kick_oldest: "Disconnect the oldest device", refuse: "Refuse the new device",
  never: "Never scanned", running: "Scanning", done: "Scanned", failed: "Failed",
  ok: "OK", broken: "Unreadable", missing: "Missing",
  received: "Received", actioned: "Actioned", rejected: "Rejected", revoked: "Revoked",
  pending: "Pending", restored: "Restored", upheld: "Kept (legal action)", moot: "Moot",
  staff: "after a review", counter_notice: "after a counter-notice",
  end_sessions: "End sessions", extend: "Extend", enable: "Enable", disable: "Disable", ban: "Ban", unban: "Unban", delete: "Delete",
};

export const fieldLabel = (name) => (FIELDS[name] && FIELDS[name].label) || humanize(name);
export const valueLabel = (value) => VALUES[value] || humanize(value);

// The API's validation messages (pydantic's English) as sentences an operator acts on.
const PATTERNS = {
  "^[A-Za-z0-9._@-]+$": "Use letters, digits, dots, dashes, underscores or @ only (no spaces).",
  "^[a-z0-9]": "Use lower-case letters, digits and dashes.",
};

export function humanMessage(message) {
  const text = String(message || "");
  let m;
  if ((m = text.match(/^String should match pattern '(.*)'$/))) {
    const found = Object.entries(PATTERNS).find(([p]) => m[1] === p || m[1].startsWith(p));
    return found ? found[1] : "This has characters that are not allowed here.";
  }
  if ((m = text.match(/^String should have at least (\d+) characters?$/))) return m[1] === "1" ? "This is required." : `Use at least ${m[1]} characters.`;
  if ((m = text.match(/^String should have at most (\d+) characters?$/))) return `Use at most ${m[1]} characters.`;
  if ((m = text.match(/^Input should be less than or equal to (.+)$/))) return `Use a number no larger than ${m[1]}.`;
  if ((m = text.match(/^Input should be less than (.+)$/))) return `Use a number smaller than ${m[1]}.`;
  if ((m = text.match(/^Input should be greater than or equal to (.+)$/))) return `Use a number of at least ${m[1]}.`;
  if ((m = text.match(/^Input should be greater than (.+)$/))) return `Use a number larger than ${m[1]}.`;
  if ((m = text.match(/^List should have at least (\d+) items?/))) return m[1] === "1" ? "Choose at least one." : `Choose at least ${m[1]}.`;
  if ((m = text.match(/^List should have at most (\d+) items?/))) return `Choose at most ${m[1]}.`;
  if (/^Field required$/.test(text)) return "This is required.";
  if (/^Input should be a valid integer/.test(text)) return "Enter a whole number.";
  if (/^Input should be a valid number/.test(text)) return "Enter a number.";
  if (/^Input should be a valid (datetime|date)/.test(text) || /timezone/.test(text)) return "Enter a date and time.";
  if (/^Input should be a valid (URL|url)/.test(text)) return "Enter a full address, starting with http:// or https://.";
  if (/^Input should be /.test(text)) return "Choose one of the options.";
  if ((m = text.match(/^Value error, (.*)$/))) return m[1];
  return text;
}

// A strong random password in the characters line credentials accept.
export function generatePassword(length = 16) {
  const chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
  const bytes = new Uint32Array(length);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => chars[b % chars.length]).join("");
}
