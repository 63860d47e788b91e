import { randomInt } from 'node:crypto'

/** Letters and digits only: nothing a URL, a shell or a YAML file would need quoted or escaped. */
export const passwordAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** 32 characters of 62 give 190 bits, more than any server's verifier keeps. */
const generatedPasswordLength = 32

/** A password from the operating system's CSPRNG; randomInt draws without modulo bias. */
export function generatePassword(length = generatedPasswordLength): string {
  let out = ''
  for (let i = 0; i < length; i++) out += passwordAlphabet[randomInt(passwordAlphabet.length)]
  return out
}
