/** A key or name for a -- comment: a line break or another control character in it must not end the comment and start SQL. */
export function commentText(text: string): string {
  return /\p{Cc}/u.test(text) ? JSON.stringify(text) : text
}
